' Bot memory is read-your-writes; SHARE copies a key to another bot, which
' takes it with SYNC in its own script.
ORCHESTRATE WORKFLOW "memory"
  SET BOT MEMORY "resolution", method
  seen = GET BOT MEMORY "resolution"
  BOT SHARE MEMORY "resolution" WITH "follow-up"
  STEP 1: BOT "follow-up" "acknowledge"
  PUBLISH EVENT "resolved" WITH {"method": seen}
END WORKFLOW
