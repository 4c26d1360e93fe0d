' A run whose only open request is never answered stays blocked on it.
' bot never "go" -> hold
STEP 1: BOT "never" "go"
