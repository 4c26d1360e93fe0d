' W1 support-flow: reference benchmark workload (shared/bench/W1.md)
orchestrate workflow "support-flow"
step 1: bot "classifier" "analyze complaint"
      STEP 2: BOT "order-checker" "validate order"
if order_amount > 100 then
step 3: human approval from "manager@company.com"
timeout 1800
end if
step 4: parallel
branch a: bot "refund-processor" "process refund"
branch b: bot "inventory-updater" "update stock"
end parallel
publish event "workflow_completed"
end workflow
