' A step retried with RETRY: the failed attempts leave no answer, the step
' row counts every attempt.
ORCHESTRATE WORKFLOW "retries"
  STEP 1: BOT "flaky" "try" RETRY 3
  TALK "succeeded on attempt " & attempt_seen
END WORKFLOW
