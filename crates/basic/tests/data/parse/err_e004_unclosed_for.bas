FOR i = 1 TO 3
  TALK i
  FOR EACH x IN items
    PRINT x
  NEXT
