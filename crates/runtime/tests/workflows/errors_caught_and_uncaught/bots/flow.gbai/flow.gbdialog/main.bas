' ON ERROR GOTO catches a failed step; the error is in ERROR. A later
' uncaught failure fails the run with its step and the variables kept.
ORCHESTRATE WORKFLOW "errors"
  ON ERROR GOTO handled
  STEP 1: BOT "broken" "fail"
  TALK "not reached"
handled:
  caught = ERROR.message
  ON ERROR GOTO 0
  STEP 2: BOT "broken" "fail"
  TALK "not reached either"
END WORKFLOW
