SET BOT MEMORY "greeting", "Welcome back"
SET BOT MEMORY "visits", 1
greeting = GET BOT MEMORY "greeting"
visits = GET BOT MEMORY("visits")
SET BOT MEMORY "visits", visits + 1
TALK greeting
