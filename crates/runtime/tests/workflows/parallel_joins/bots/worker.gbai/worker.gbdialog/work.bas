PARAM who AS STRING
RETURN {"who": who, "done": TRUE}
