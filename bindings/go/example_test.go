package sop_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	sop "github.com/sop-rs/sop/bindings/go"
)

func Example() {
	dir, _ := os.MkdirTemp("", "sop-example-")
	defer os.RemoveAll(dir)

	db, err := sop.Open(filepath.Join(dir, "db"), sop.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	err = db.Update(func(tx *sop.Tx) error {
		users, err := tx.CreateJSONStoreIfNotExists("users", sop.StoreOptions{})
		if err != nil {
			return err
		}
		for _, name := range []string{"grace", "ada", "alan"} {
			if err := users.Put(name, map[string]int{"len": len(name)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	err = db.View(func(tx *sop.Tx) error {
		users, err := tx.JSONStore("users")
		if err != nil {
			return err
		}
		for k, v := range users.Range("a", "b") {
			fmt.Println(string(k), string(v))
		}
		var v any
		if err := users.Get("linus", &v); errors.Is(err, sop.ErrNotFound) {
			fmt.Println("no linus")
		}
		return users.Err()
	})
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// "ada" {"len":3}
	// "alan" {"len":4}
	// no linus
}
