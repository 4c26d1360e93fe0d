' W1 support-flow: reference benchmark workload (shared/bench/W1.md)
' The built-in bots of `botflow bench` answer the BOT steps. The result is
' built explicitly so that it has exactly the fields W1 names.
ORCHESTRATE WORKFLOW "support-flow"
  STEP 1: BOT "classifier" "analyze complaint"
  STEP 2: BOT "order-checker" "validate order"
  wf = MID(order_id, 3)
  outcome = "completed"
  IF order_amount > 100 THEN
    STEP 3: HUMAN APPROVAL FROM "manager@company.com"
      TIMEOUT 1800
      ON DENY: CONTINUE
    IF NOT approval.approved THEN
      outcome = "rejected"
    END IF
  END IF
  IF outcome = "completed" THEN
    STEP 4: PARALLEL
      BRANCH A: BOT "refund-processor" "process refund"
      BRANCH B: BOT "inventory-updater" "update stock"
    END PARALLEL
  END IF
  PUBLISH EVENT "workflow_completed"
  RETURN {wf: wf, status: outcome, category: category, order_amount: order_amount,
    approval: approval, refund: refund_id, inventory: {updated: updated, sku: sku}}
END WORKFLOW
