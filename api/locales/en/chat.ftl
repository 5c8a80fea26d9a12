# chat (en)
