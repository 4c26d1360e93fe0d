total = 150
IF total > 100
  TALK "no THEN, still a block"
END IF
IF total > 100 TALK "inline without THEN"
TALK "after"
