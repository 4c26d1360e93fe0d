' Checked against the deployment classifier, order-checker, refund-processor,
' inventory-updater, support-bot-2.
ORCHESTRATE WORKFLOW "w"
  STEP 1: BOT "order-cheker" "validate order"
  STEP 2: BOT "Classifier" "case does not matter"
  answer = BOT "billing" "charge"
  BOT SHARE MEMORY "k" WITH "support-bot-3"
  BOT SYNC MEMORY FROM "warehouse"
  PUBLISH EVENT "done" TO "refund-procesor"
  who = "classifier"
  STEP 3: BOT who "a computed name is not checked"
END WORKFLOW
DELEGATE TO "human-agent"
