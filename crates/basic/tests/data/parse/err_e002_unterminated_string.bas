TALK "Hello
name = "Ann"
TALK "Bye, " & name & "
SEND MAIL "a@b.com", "Subject, "Body"
TALK "done"
