price$ = 10
TALK "ok"
total = 5 @ 3
x = 1 ~
y = x # not a comment in the middle of a line
TALK "still parsed"
