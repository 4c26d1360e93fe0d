' Customer support: the botflow headline example.
'
' A complaint is classified, its order validated, and orders over 100 wait
' for a manager's approval (30 minutes at most). The refund and the stock
' update then run in parallel, the resolution is shared with the follow-up
' bot, and the end of the case is announced as an event.
'
' The bots it calls are the other packages of this folder; each answers
' offline with a tool script. The run's input names the case, for example
' {"complaint": "My blender arrived broken", "order_id": "ORD-1001", "order_amount": 149.90}.

ORCHESTRATE WORKFLOW "customer-support"
  STEP 1: BOT "classifier" "analyze complaint"
  STEP 2: BOT "order-checker" "validate order"
  IF order_amount > 100 THEN
    STEP 3: HUMAN APPROVAL FROM "manager@company.com"
      TIMEOUT 1800
  END IF
  STEP 4: PARALLEL
    BRANCH A: BOT "refund-processor" "process refund"
    BRANCH B: BOT "inventory-updater" "update stock"
  END PARALLEL
  BOT SHARE MEMORY "resolution_method" WITH "support-bot-2"
  PUBLISH EVENT "workflow_completed"
END WORKFLOW
