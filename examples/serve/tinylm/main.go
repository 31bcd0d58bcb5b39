// Command tinylm is the example model of Skiff's serving guide: a character
// n-gram language model, trained on a text shipped with it, served over the
// OpenAI API. It uses only Go's standard library.
//
//	tinylm train --out model.json [--order 7] [--corpus FILE]
//	tinylm serve --model model.json [--name tinylm]     (listens on $PORT)
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

//go:embed corpus.txt
var corpus string

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: tinylm train --out FILE | tinylm serve --model FILE")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "train":
		err = train(os.Args[2:])
	case "serve":
		err = serve(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: use train or serve", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tinylm:", err)
		os.Exit(1)
	}
}

func train(args []string) error {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	out := fs.String("out", "", "where to write the model (required)")
	order := fs.Int("order", 7, "n-gram order: characters of context plus one")
	corpusFile := fs.String("corpus", "", "training text (default: the text built into tinylm)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required: name the model file to write")
	}
	text := corpus
	if *corpusFile != "" {
		b, err := os.ReadFile(*corpusFile)
		if err != nil {
			return err
		}
		text = string(b)
	}
	start := time.Now()
	m, err := Train(text, *order)
	if err != nil {
		return err
	}
	if err := m.Save(*out); err != nil {
		return err
	}
	// A held-out style check: bits per character on the training text
	// itself tells the user the model learned something.
	fmt.Printf("trained order-%d model on %d characters: %d contexts, %.2f bits/char on the corpus, %s -> %s\n",
		m.Order, m.Chars, len(m.Counts), m.BitsPerChar(text), time.Since(start).Round(time.Millisecond), *out)
	return nil
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	modelPath := fs.String("model", "", "model file written by tinylm train (required)")
	name := fs.String("name", "tinylm", "model name to answer to")
	addr := fs.String("listen", "", "address (default 127.0.0.1:$PORT)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *modelPath == "" {
		return errors.New("--model is required")
	}
	if *addr == "" {
		port := os.Getenv("PORT")
		if port == "" {
			return errors.New("no address: set $PORT or pass --listen")
		}
		*addr = net.JoinHostPort("127.0.0.1", port)
	}
	m, err := Load(*modelPath)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newServer(m, *name), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		// Finish the answers in flight, then exit.
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Printf("serving model %q (order %d) on http://%s", *name, m.Order, ln.Addr())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
