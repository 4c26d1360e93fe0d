' A realistic support flow with every orchestration form
USE KB "support"
ON EVENT "approval_received" DO
  TALK "Manager approval received, processing refund..."
END ON

ORCHESTRATE WORKFLOW "support-full"
  ON ERROR GOTO failed
  STEP 1: BOT "classifier" "analyze complaint" INTO analysis TIMEOUT 30 RETRY 2
  SELECT CASE analysis.kind
    CASE "refund"
      STEP 2: BOT "order-checker" "validate order" WITH {"id": order_id}
      IF order_amount > 100 THEN
        STEP 3: HUMAN APPROVAL FROM "manager@company.com"
          MESSAGE "Refund of " & order_amount
          TIMEOUT 1800
          ON TIMEOUT: ESCALATE TO "director@company.com"
      END IF
      STEP 4: PARALLEL
        BRANCH A: BOT "refund-processor" "process refund"
        BRANCH B:
          BOT "inventory-updater" "update stock"
          PUBLISH EVENT "stock_changed" FOR order_id
        END BRANCH
      END PARALLEL
    CASE ELSE
      STEP 5: BOT "classifier" "answer question" INTO reply
      TALK reply
  END SELECT
  FOR EACH item IN analysis.items
    STEP 6: BOT "inventory-updater" "check item" WITH {"item": item}
  NEXT item
  WAIT FOR EVENT "customer_confirmed" FOR order_id TIMEOUT 86400
    ON TIMEOUT: CONTINUE
  DELAY "1h"
  BOT SHARE MEMORY "resolution_method" WITH "support-bot-2"
  PUBLISH EVENT "workflow_completed" WITH {"case": order_id}
  RETURN {"status": "done"}
failed:
  PUBLISH EVENT "workflow_failed_custom" WITH ERROR
  RETURN {"status": "failed"}
END WORKFLOW
