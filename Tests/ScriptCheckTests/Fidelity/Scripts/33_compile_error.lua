return (1 +
