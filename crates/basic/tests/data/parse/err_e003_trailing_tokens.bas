TALK "a" "b"
x = 1 2
GOTO 5
FOR i = 1 10
NEXT
CALL greet("Ann" "Bob")
WAIT 5 seconds
e = 1e
k = 3.
TALK "after"
