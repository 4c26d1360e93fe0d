ORCHESTRATE WORKFLOW "w"
  BRANCH A: BOT "refund-processor" "process refund"
  BRANCH B:
  STEP 1: BOT "classifier" "x"
END WORKFLOW
BRANCH C: TALK "outside everything"
