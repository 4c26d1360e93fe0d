TALK "start"
IF total > 100 THEN
  TALK "big"
  IF total > 1000 THEN
    TALK "huge"
  END IF
