SET SCHEDULE "0 9 * * 1-5"
TRIGGER ON EVENT "order.created"

ON EVENT "approval_received" DO
  TALK "Approved by " & event.data.by
END ON

ORCHESTRATE WORKFLOW "fulfilment"
  STEP 1: BOT "order-checker" "validate order" INTO order WITH {"id": event.key} TIMEOUT 30 RETRY 3
  STEP 2: HUMAN APPROVAL FROM "a@company.com", "b@company.com"
    TIMEOUT 3600
    ON TIMEOUT: ESCALATE TO "director@company.com"
    REQUIRE 2
  IF approval.approved THEN
    STEP 3: DELAY "2h"
  ELSE
    STEP 3: WAIT 90
  END IF
  paid = WAIT FOR EVENT "payment_confirmed" FOR order.id TIMEOUT 3600
    ON TIMEOUT: FAIL
  STEP 4: PARALLEL
    BRANCH A: BOT "refund-processor" "process refund"
    BRANCH B:
      BOT "inventory-updater" "update stock"
      TALK "stock updated"
    END BRANCH
    BRANCH C: PUBLISH EVENT "stock_low" TO "inventory-updater"
  END PARALLEL WAIT 2
  STEP 5: BOT SYNC MEMORY FROM "support-bot-2"
  STEP 6: SET BOT MEMORY "last_order", order.id
  DELAY 1.5
  RETURN paid
END WORKFLOW
