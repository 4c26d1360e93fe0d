answer = llm "Summarise: " & text
fast = LLM prompt WITH OPTIMIZE FOR "speed"
cheap = llm prompt with optimize for "quality" with max_cost 0.05
page = get "https://example.com"
doc = GET "files/readme.md"
reply = POST "https://example.com/api", {"q": 1}
last = get bot memory "last"
again = GET BOT MEMORY("last")
color = recall "color"
verdict = bot "classifier" "classify" with {"text": text} into out
reply2 = HEAR
n = hear as integer
bots = list bots
LET found = FIND "customers.xlsx", "id=" & id
