STEP 1: BOT "classifier" "analyze complaint"

SUB helper()
  STEP 2: BOT "classifier" "again"
END SUB

ORCHESTRATE WORKFLOW "w"
  STEP 3: CALL helper()
END WORKFLOW
