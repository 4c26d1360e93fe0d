WHILE x < 3
  x = x + 1
  SELECT CASE x
    CASE 1
      TALK "one"
WEND
DO
  x = x - 1
FUNCTION f(a)
  RETURN a
END FUNCTION
