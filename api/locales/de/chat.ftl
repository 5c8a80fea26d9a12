# chat (de)
