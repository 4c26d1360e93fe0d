' Order processing.
'
' An order is scored for fraud; a high-risk order waits for the risk team's
' approval (one hour at most: without a decision the order is rejected).
' The payment depends on the payment method, then stock, shipment and the
' customer e-mail run in parallel. The last order is shared with the
' customer-care bot and the end is announced as an event.
'
' The bots it calls are the other packages of this folder; each answers
' offline with a tool script. The run's input is the order, for example
' {"order_id": "ORD-7", "amount": 80, "country": "PT", "new_customer": false, "payment_method": "card"}.

ORCHESTRATE WORKFLOW "order-processing"
  STEP 1: BOT "fraud-scorer" "score order"
  IF risk = "high" THEN
    STEP 2: HUMAN APPROVAL FROM "risk@company.com"
      TIMEOUT 3600
      MESSAGE "High-risk order " & order_id & " (fraud score " & fraud_score & "): release it?"
      ON TIMEOUT: REJECT ORDER
  END IF
  IF payment_method = "card" THEN
    STEP 3: BOT "payments" "charge card"
  ELSE
    STEP 3: BOT "payments" "send invoice"
  END IF
  STEP 4: PARALLEL
    BRANCH A: BOT "warehouse" "reserve stock"
    BRANCH B: BOT "shipping" "book shipment"
    BRANCH C: BOT "notifier" "email customer"
  END PARALLEL
  SET BOT MEMORY "last_order", order_id
  BOT SHARE MEMORY "last_order" WITH "customer-care"
  PUBLISH EVENT "order_processed" WITH {"order_id": order_id, "risk": risk}
  RETURN {"order_id": order_id, "risk": risk, "payment": payment_status, "reservation": reservation_id, "tracking": tracking_id, "customer_notified": customer_notified}
END WORKFLOW
