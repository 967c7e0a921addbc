"""What every app uses and no app owns: the API's error shape, the typed environment readers,
the hooks that let a lower app cause an effect in a higher one, and the after-commit publisher."""
