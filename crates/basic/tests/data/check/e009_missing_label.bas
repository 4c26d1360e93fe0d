ON ERROR GOTO handler
GOTO retry
GOTO Done
TALK "never"

Retry:
handle:
done:
RETURN 1
