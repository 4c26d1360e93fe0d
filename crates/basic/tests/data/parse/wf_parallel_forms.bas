ORCHESTRATE WORKFLOW "fan-out"
  STEP 1: PARALLEL ' everything at once
    ' the quick ones first
    BRANCH A: BOT "refund-processor" "process refund"
    BRANCH B: BOT "inventory-updater" "update stock" INTO stock
    BRANCH C:
      BOT "classifier" "tag"
      TALK "tagged"
    END BRANCH
    BRANCH D:
      BOT "order-checker" "recheck" WITH {"x": 1} TIMEOUT 30 RETRY 3 CACHE 600
      PRINT "D done"
    BRANCH E:
      STEP 1: BOT "classifier" "nested step"
  END PARALLEL
  PARALLEL
    BRANCH left: TALK "left"
    BRANCH right: TALK "right"
  END PARALLEL
END WORKFLOW
