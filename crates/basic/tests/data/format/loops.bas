for i = 1 to 10 step 2
  if i = 5 then exit for
  print i
next
FOR j = 10 TO 1 STEP -1
CONTINUE FOR
NEXT j
while n < 3
n = n + 1
wend
WHILE m < 3
  m = m + 1
END WHILE
do while k < 3
k = k + 1
if k = 2 then exit do
loop
do until k > 10
k = k + 2
loop
do
k = k - 1
loop until k <= 0
DO
  k = k + 1
LOOP WHILE k < 5
DO
  EXIT DO
LOOP
WHILE TRUE
  EXIT WHILE
  CONTINUE WHILE
WEND
