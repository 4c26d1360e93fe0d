ORCHESTRATE WORKFLOW "w"
  STEP 1: BOT "classifier" "analyze" TIMEOUT
  STEP 2: HUMAN APPROVAL FROM "manager@company.com"
    TIMEOUT
    ON TIMEOUT: ESCALATE TO "director@company.com"
  x = WAIT FOR EVENT "paid" TIMEOUT
  WAIT FOR EVENT "shipped"
    TIMEOUT ' no value
  STEP 3: BOT "classifier" "again" TIMEOUT "soon"
END WORKFLOW
