ORCHESTRATE WORKFLOW "w"
  STEP 1: PARALLEL
    BRANCH A: BOT "refund-processor" "process refund"
    BRANCH B: BOT "inventory-updater" "update stock"
END WORKFLOW
