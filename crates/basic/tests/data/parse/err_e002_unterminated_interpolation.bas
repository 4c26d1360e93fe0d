name = "Ann"
TALK "Hi ${name"
TALK "Hi ${"nested}"
TALK "after"
