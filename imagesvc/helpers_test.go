package imagesvc

import "encoding/base64"

func b64(sum [32]byte) string { return base64.StdEncoding.EncodeToString(sum[:]) }
