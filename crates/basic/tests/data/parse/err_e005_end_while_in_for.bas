FOR i = 1 TO 3
  TALK i
END WHILE
NEXT i
TALK "after"
