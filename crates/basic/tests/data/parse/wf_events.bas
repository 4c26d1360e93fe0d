ON EVENT "approval_received" DO
  TALK "Manager approval received, processing refund..."
END ON
on event "stock_low"
  PRINT event.data
end on
ORCHESTRATE WORKFLOW "events"
  PUBLISH EVENT "workflow_started_manually"
  PUBLISH EVENT "workflow_completed" WITH {"case": case_id}
  PUBLISH EVENT "stock_low" TO "inventory-updater"
  PUBLISH EVENT "payment" WITH {"amount": 10} FOR order_id TO "refund-processor"
  PUBLISH EVENT "reordered" TO "classifier" FOR order_id WITH data
END WORKFLOW
