' The headline workflow with every bot answering.
' input: {"complaint": "My blender arrived broken", "Order_Id": "ORD-1001", "order_amount": 149.90}
' bot classifier "analyze complaint" -> {"category": "damaged", "confidence": 0.9}
' bot order-checker "validate order" -> {"order_id": "ORD-1001", "order_amount": 149.9}
' approval -> {"approved": true, "by": "manager@company.com", "comment": "ok", "at": "2024-05-01T10:30:00Z"}
' bot refund-processor "process refund" -> {"refund_id": "RF-ORD-1001", "status": "refunded", "resolution_method": "refund"}
' bot inventory-updater "update stock" -> {"updated": true, "status": "restocked"}
ORCHESTRATE WORKFLOW "customer-support"
  STEP 1: BOT "classifier" "analyze complaint"
  STEP 2: BOT "order-checker" "validate order"
  IF order_amount > 100 THEN
    STEP 3: HUMAN APPROVAL FROM "manager@company.com"
      TIMEOUT 1800
      ON TIMEOUT: ESCALATE TO "director@company.com"
  END IF
  STEP 4: PARALLEL
    BRANCH A: BOT "refund-processor" "process refund"
    BRANCH B:
      BOT "inventory-updater" "update stock"
      TALK "stock updated"
    END BRANCH
  END PARALLEL
  BOT SHARE MEMORY "resolution_method" WITH "support-bot-2"
  PUBLISH EVENT "workflow_completed" WITH {"case": order_id, "category": category}
END WORKFLOW
