SELECT CASE x
  TALK "before any case"
  CASE 1: TALK "one"
END SELECT
DO WHILE x < 3
  x = x + 1
LOOP UNTIL x > 5
if x { talk "x" } else talk "y"
TALK "after"
