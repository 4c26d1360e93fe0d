' The headline example of the issue: parses and checks with no diagnostic at all
ORCHESTRATE WORKFLOW "customer-support"
  STEP 1: BOT "classifier" "analyze complaint"
  STEP 2: BOT "order-checker" "validate order"
  IF order_amount > 100 THEN
    STEP 3: HUMAN APPROVAL FROM "manager@company.com"
      TIMEOUT 1800                         ' 30 minutes
      ON TIMEOUT: ESCALATE TO "director@company.com"
  END IF
  STEP 4: PARALLEL
    BRANCH A: BOT "refund-processor" "process refund"
    BRANCH B: BOT "inventory-updater" "update stock"
  END PARALLEL
  BOT SHARE MEMORY "resolution_method" WITH "support-bot-2"
  PUBLISH EVENT "workflow_completed"
END WORKFLOW
