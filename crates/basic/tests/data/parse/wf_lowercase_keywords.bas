orchestrate workflow "lower"
  step 1: bot "classifier" "analyze complaint" into a timeout 10 retry 1 cache 5
  step 2: human approval from group "ops" require 1 via "log" message "ok?"
    timeout 60
    on timeout: reject
    on deny: continue
  step 3: parallel
    branch a: bot "refund-processor" "x"
    branch b:
      talk "b"
    end branch
  end parallel wait any
  x = wait for event "go" for a timeout 5
    on timeout: fail
  publish event "done" with a for a to "classifier"
  bot share memory "k" with "support-bot-2"
  bot sync memory from "support-bot-2"
  delay "45s"
end workflow
