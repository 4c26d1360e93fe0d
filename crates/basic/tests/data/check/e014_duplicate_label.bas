retry:
TALK "one"
Retry:
TALK "two"
IF TRUE THEN
  retry:
END IF
GOTO retry
