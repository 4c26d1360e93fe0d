FUNCTION total(a)
  RETURN a
  TALK "never"
  ' comments and blank lines do not count

  TALK "still never, but warned once"
END FUNCTION

GOTO finish
TALK "skipped"
finish:
TALK "reachable through the label"

FOR EACH x IN [1, 2]
  IF x = 1 THEN
    CONTINUE FOR
    TALK "after continue"
  END IF
  EXIT FOR
  TALK "after exit"
NEXT
RETURN 1
