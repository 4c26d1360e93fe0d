text = "The parcel arrived broken"
summary = LLM "Summarise: " & text
quick = LLM "Classify: " & text WITH OPTIMIZE FOR "speed"
careful = LLM "Explain: " & text WITH OPTIMIZE FOR "quality" WITH MAX_COST 0.05
capped = LLM text WITH MAX_COST 1
called = LLM("Translate to French: " & text)
TALK summary & quick & careful & capped & called
