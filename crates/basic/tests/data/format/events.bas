on event "approval_received" do
talk "Manager approval received, processing refund..."
end on
ORCHESTRATE WORKFLOW "events"
publish event "workflow_completed" with {"case": case_id}
publish event "stock_low" to "purchasing-bot"
PUBLISH EVENT "keyed" WITH data FOR order_id TO "bot"
PUBLISH EVENT "bare"
e = wait for event "payment_confirmed" for order_id timeout 3600
  on timeout: escalate to "ops@company.com"
WAIT FOR EVENT "shipped" TIMEOUT 60 ON TIMEOUT: FAIL
WAIT FOR EVENT "other" FOR key
  TIMEOUT 10 ' short
  ON TIMEOUT: CONTINUE
x = WAIT FOR EVENT "x"
END WORKFLOW
