score = 7
IF score > 5 THEN TALK "pass"
IF score > 5 THEN TALK "pass" ELSE TALK "fail"
IF score = 7 THEN lucky = TRUE ELSE lucky = FALSE
FOR i = 1 TO 10
  IF i = score THEN EXIT FOR
  IF i MOD 2 = 0 THEN CONTINUE FOR ELSE PRINT i
NEXT i
IF lucky THEN GOTO done
TALK "not lucky"
done:
