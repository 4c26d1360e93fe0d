TALK "first"
TALK "never closed