' Several mistakes; every line after each one still parses
TALK "start"
x = (1 + )
IF x > 1 THEN
  TALK "unterminated
  FOR i = 1 TO 3
    PRINT i
  END IF
y = 2 $ 3
SELECT CASE y
  CASE IS
    TALK "is what?"
END SELECT
NEXT
ORCHESTRATE WORKFLOW "w"
  STEP 1: BOT "classifier" "analyze"
  BRANCH A: TALK "stray"
  STEP 2: PARALLEL
    TALK "not in a branch"
    BRANCH A: BOT "refund-processor" "process refund"
  END PARALLEL
END WORKFLOW
TALK "end"
