amount = 250
IF amount > 1000 THEN
  TALK "very large"
ELSEIF amount > 100 THEN
  TALK "large"
ELSE IF amount > 10 THEN
  TALK "medium"
ELSE
  TALK "small"
END IF

IF amount = 0 THEN
  TALK "nothing"
ENDIF

IF amount > 0 AND amount < 500 THEN
  IF amount MOD 2 = 0 THEN
    TALK "even"
  END IF
END IF
