' FOR..TO with STEP (negative too), FOR EACH over a list and an object,
' WHILE, DO WHILE, DO..LOOP UNTIL, EXIT and CONTINUE.
total = 0
FOR i = 1 TO 10 STEP 3
  total = total + i
NEXT i
countdown = ""
FOR j = 5 TO 1 STEP -2
  countdown = countdown & j
NEXT
FOR k = 1 TO 0
  TALK "never"
NEXT
names = ""
FOR EACH name IN ["ann", "bob", "cy", "dee"]
  IF name = "bob" THEN CONTINUE FOR
  IF name = "dee" THEN EXIT FOR
  names = names + UPPER(name) + " "
NEXT
sum = 0
FOR EACH value IN {"a": 1, "b": 2, "c": 3}
  sum = sum + value
NEXT
w = 0
WHILE w < 5
  w = w + 1
  IF w = 4 THEN EXIT WHILE
WEND
d = 0
DO WHILE d < 3
  d = d + 1
LOOP
u = 10
DO
  u = u - 3
LOOP UNTIL u < 0
e = 0
DO
  e = e + 1
  IF e >= 6 THEN EXIT DO
LOOP
nested = []
FOR a = 1 TO 2
  FOR b = 1 TO 3
    IF b = 2 THEN CONTINUE FOR
    nested = nested + [a * 10 + b]
  NEXT b
NEXT a
