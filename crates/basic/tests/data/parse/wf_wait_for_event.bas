ORCHESTRATE WORKFLOW "waits"
  WAIT FOR EVENT "payment_confirmed" FOR order_id TIMEOUT 3600
  TALK "paid: " & event.data.amount
  e = WAIT FOR EVENT "payment_confirmed" FOR order_id TIMEOUT 3600
    ON TIMEOUT: ESCALATE TO "ops@company.com"
  shipped = WAIT FOR EVENT "shipped"
    TIMEOUT 600 ' ten minutes
    ON TIMEOUT: FAIL
  WAIT FOR EVENT "delivered" TIMEOUT 60 ON TIMEOUT: CONTINUE
  WAIT FOR EVENT "feedback"
    TIMEOUT 86400
  TALK e & shipped
END WORKFLOW
