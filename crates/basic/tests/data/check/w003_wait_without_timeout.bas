ORCHESTRATE WORKFLOW "w"
  WAIT FOR EVENT "payment_confirmed"
  e = WAIT FOR EVENT "shipped" FOR e.key
  done = WAIT FOR EVENT "delivered" TIMEOUT 3600
END WORKFLOW
