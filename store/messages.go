package store

// The table of the Kinesis API's error messages: every text the store
// answers a client with, in AWS's wording (as AWS's API reference and
// recorded AWS answers give them), as format strings for fmt.
//
// How to extend it: add a constant named Msg<What> next to its kin below,
// with a comment naming the error type (__type) it goes with and what its
// verbs are, and use it at the error site as
// &store.Error{Code: ..., Message: fmt.Sprintf(store.MsgX, ...)} (the
// server's apiErr does this). Never write a message inline at an error
// site. Texts that are not AWS's (for behaviour AWS does not have, such as
// the store's own limits) are marked "Sluice's own".
//
// The account of every resource is AccountID.
const AccountID = "000000000000"

// JavaDateLayout is how AWS's messages show a time (Java's Date.toString).
const JavaDateLayout = "Mon Jan 02 15:04:05 MST 2006"

// Validation: the parts of AWS's "N validation errors detected: …"
// messages (ValidationException). Each failed constraint is one
// MsgValueAt with the value quoted ('v') or null, joined with "; ".
const (
	MsgValidationErrors = "%d validation error%s detected: %s" // count, "" or "s", the errors joined with "; "
	MsgValueAt          = "Value %s at '%s' failed to satisfy constraint: %s"
	MsgNotNull          = "Member must not be null"
	MsgPattern          = "Member must satisfy regular expression pattern: %s"
	MsgMinLength        = "Member must have length greater than or equal to %d"
	MsgMaxLength        = "Member must have length less than or equal to %d"
	MsgMinValue         = "Member must have value greater than or equal to %d"
	MsgMaxValue         = "Member must have value less than or equal to %d"
	MsgEnum             = "Member must satisfy enum value set: [%s]"
	MsgLengthBetween    = "Member must have length between %d and %d" // least, most
	MsgValueBetween     = "Member must have value between %d and %d"  // least, most
	// Constraints on each entry of a map or list: the entry's constraints joined with ", ".
	MsgMapKeys   = "Map keys must satisfy constraint: [%s]"
	MsgMapValues = "Map value must satisfy constraint: [%s]"
	MsgEach      = "Member must satisfy constraint: [%s]"
	// MsgBlobValue is how AWS shows a blob's value: its length twice.
	MsgBlobValue = "java.nio.HeapByteBuffer[pos=0 lim=%d cap=%d]"
	// MsgRecordsEntry is how AWS shows one PutRecords entry in a list value.
	MsgRecordsEntry = "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310"
	// MsgLongPollHeader (Sluice's own): the long-poll header's value; the header's name, the most milliseconds.
	MsgLongPollHeader = "Member must be a whole number of milliseconds between 1 and %d"
	MsgValueAtHeader  = "Value '%s' at header '%s' failed to satisfy constraint: %s"
)

// SerializationException: a body that is not JSON of the operation's
// shape. AWS answers an empty or unparsable body with no message at all.
const (
	MsgTypeStringFromNumber  = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String"
	MsgTypeStringFromBool    = "class java.lang.Boolean can not be converted to an String"
	MsgTypeIntegerFromString = "class java.lang.String can not be converted to an Integer"
	MsgTypeIntegerFromBool   = "class java.lang.Boolean can not be converted to an Integer"
	MsgTypeTimeFromString    = "class java.lang.String can not be converted to milliseconds since epoch"
	MsgTypeTimeFromBool      = "class java.lang.Boolean can not be converted to milliseconds since epoch"
	MsgTypeBlobFromNumber    = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob"
	MsgTypeBlobFromBool      = "class java.lang.Boolean can not be converted to a Blob"
	MsgTypeBoolFromNumber    = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an Boolean"
	MsgTypeList              = "Start of list found where not expected"
	MsgTypeStructure         = "Start of structure or map found where not expected."
	MsgTypeExpectedList      = "Expected list or null"
	MsgTypeExpectedMap       = "Expected map or null"
	MsgTypeExpectedNull      = "Expected null"
	// Base64 in a blob: the value, then the detail.
	MsgBlobBase64Length = "'%s' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: %d"
	MsgBlobBase64Char   = "'%s' can not be converted to a Blob: Invalid Base64 character: '%c'"
	MsgBlobBase64Last   = "'%s' can not be converted to a Blob: Invalid last non-pad Base64 character dectected"
)

// Streams (ResourceNotFoundException, ResourceInUseException,
// InvalidArgumentException, LimitExceededException).
const (
	MsgStreamNotFound = "Stream %s under account %s not found."      // name, account
	MsgStreamExists   = "Stream %s under account %s already exists." // name, account
	// MsgNoStream: neither StreamName nor StreamARN (InvalidArgumentException).
	MsgNoStream = "Either StreamName or StreamARN should be provided."
	// MsgOnDemandLimit (LimitExceededException): the limit, account.
	MsgOnDemandLimit = "This request would exceed the limit of %d on-demand streams under account %s."
	// MsgShardLimit (Sluice's own limit, AWS's wording): the shards per stream.
	MsgShardLimit = "This request would exceed the shard limit of %d shards per stream."
	// MsgStoreShardLimit (Sluice's own): open, requested, limit.
	MsgStoreShardLimit = "This request would exceed the shard limit of the store: %d shards open in all streams, %d more requested, the limit is %d (--max-shards)."
	// MsgStreamName (Sluice's own addition to AWS's constraint): the name; stream names become folder names.
	MsgStreamName = "1 validation error detected: Value '%s' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 1 and 128 (and not be . or ..)"
	// MsgStreamRecreated (Sluice's own): a shard iterator of a deleted stream of the same name.
	MsgStreamRecreated = "Stream %s was deleted and re-created; the shard iterator belongs to the deleted stream."
)

// Shards.
const (
	// MsgShardNotFound: a shard id of no shard's form (ResourceNotFoundException): id, stream, account.
	MsgShardNotFound = "Could not find shard %s in stream %s under account %s."
	// MsgShardNotExist: a well-formed shard id the stream has no shard of, in GetShardIterator and GetRecords: id, stream, account.
	MsgShardNotExist = "Shard %s in stream %s under account %s does not exist"
	// MsgShardsNotAdjacent (InvalidArgumentException): shard, adjacent shard, stream, account.
	MsgShardsNotAdjacent = "Shards %s and %s in stream %s under account %s are not an adjacent pair of shards eligible for merging"
	// MsgShardClosed (ResourceInUseException; AWS's wording not recorded): shard, stream, account.
	MsgShardClosed = "Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging or splitting."
	// MsgSplitHashKey (InvalidArgumentException): key, shard, stream, account, shard's start, shard's end.
	MsgSplitHashKey = "NewStartingHashKey %s used in SplitShard() on shard %s in stream %s under account %s is not both greater than one plus the shard's StartingHashKey %s and less than the shard's EndingHashKey %s."
	// ShardMap's own errors, for callers that do not check first as the
	// server's operations do (Sluice's own: a ShardMap knows no stream).
	MsgMapNoShard     = "Could not find shard %s."                                                                                // shard
	MsgMapShardClosed = "Shard %s is not open: it was already split or merged."                                                   // shard
	MsgMapSplitKey    = "NewStartingHashKey %s is not within the hash key range of shard %s (%s to %s), excluding its first key." // key, shard, start, end
	MsgMapMergeClosed = "Shards %s and %s must both be open to merge."                                                            // shard, adjacent shard
	MsgMapNotAdjacent = "Shards %s and %s are not adjacent: their hash key ranges do not touch."                                  // shard, adjacent shard
	// MsgOpenShardLimit (Sluice's own, LimitExceededException): the open shards.
	MsgOpenShardLimit = "The stream already has %d open shards, the limit."
)

// Records.
const (
	// MsgExplicitHashKey (InvalidArgumentException): the key.
	MsgExplicitHashKey = "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was %s"
	// MsgSequenceForOrdering (InvalidArgumentException): the number, stream, account.
	MsgSequenceForOrdering = "ExclusiveMinimumSequenceNumber %s used in PutRecord on stream %s under account %s is invalid."
	// MsgRecordsSize (InvalidArgumentException, Sluice's own wording of AWS's 5 MiB limit): the bytes.
	MsgRecordsSize = "Records size exceeds 5 MB limit (got %d bytes)"
	// MsgInternalFailure: a record PutRecords could not store.
	MsgInternalFailure = "Internal service failure."
)

// Storage failures (Sluice's own: 503 ServiceUnavailable, 500
// InternalFailure; see the server's failure).
const (
	MsgShardUnavailable = "Shard %s cannot store records now (%s); retry later." // shard, cause
	MsgShardReadOnly    = "Shard %s is read-only: its log on disk is damaged."   // shard
	MsgDamagedRecord    = "Shard %s has a damaged record on disk."               // shard
	// MsgLostRecord and MsgLostRecords: records lost to damage; sequence number(s), shard.
	MsgLostRecord  = "Record %s of shard %s is lost to damage on disk; readers stop there (the store can be started with --on-corruption skip to read past them)."
	MsgLostRecords = "Records %s to %s of shard %s are lost to damage on disk; readers stop there (the store can be started with --on-corruption skip to read past them)."
)

// Shard iterators.
const (
	// MsgIteratorSequence (InvalidArgumentException): the type, "also a" or "no".
	MsgIteratorSequence = "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified %s and %s StartingSequenceNumber."
	// MsgStartingSequence (InvalidArgumentException): number, shard, stream, account.
	MsgStartingSequence = "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid."
	// MsgStartingSequenceStream (InvalidArgumentException): number, shard, stream, account.
	MsgStartingSequenceStream = "StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid because it did not come from this stream."
	// MsgStartingSequenceShard (InvalidArgumentException): the shard the number encodes, the shard asked for.
	MsgStartingSequenceShard = "Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard with %s"
	MsgNoTimestamp           = "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter."
	// MsgFutureTimestamp (InvalidArgumentException): the timestamp and now, in milliseconds.
	MsgFutureTimestamp = "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: %s, currentTimestampInMillis: %d"
	MsgBadIterator     = "Invalid ShardIterator."
	// MsgIteratorExpired (ExpiredIteratorException): issued and now (JavaDateLayout), the time to live in milliseconds.
	MsgIteratorExpired = "Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds."
)

// Paging and retention (InvalidArgumentException).
const (
	MsgBadNextToken      = "NextToken is not valid."
	MsgNextTokenOrStream = "Either NextToken or StreamName should be provided."
	MsgNextTokenAndName  = "NextToken and StreamName cannot be provided together."
	// MsgShardFilterID (Sluice's own wording): the filter type.
	MsgShardFilterID = "Must specify ShardId for ShardFilter of type %s."
	// MsgShardFilterType (Sluice's own): a filter type AWS has and the store does not.
	MsgShardFilterType = "ShardFilter type %s is not supported by this store."
	// MsgRetentionTooShort: the hours asked for.
	MsgRetentionTooShort = "Minimum allowed retention period is 24 hours. Requested retention period (%d hours) is too short."
	// MsgRetentionShorter: hours, stream, current hours.
	MsgRetentionShorter = "Requested retention period (%d hours) for stream %s can not be shorter than existing retention period (%d hours). Use DecreaseRetentionPeriod API."
	// MsgRetentionLonger: hours, stream, current hours.
	MsgRetentionLonger = "Requested retention period (%d hours) for stream %s can not be longer than existing retention period (%d hours). Use IncreaseRetentionPeriod API."
)

// Requests (ServeHTTP).
const (
	// MsgAccessDenied: a method other than POST, or no service/operation to authorize (403, XML).
	MsgAccessDenied = "Unable to determine service/operation name to be authorized"
	// MsgBodyTooLarge (Sluice's own): the most bytes.
	MsgBodyTooLarge = "request body exceeds %d bytes"
	// MsgInflight (Sluice's own).
	MsgInflight = "too many request bytes in flight on the store; try again later"
)

// Stream states and capacity modes (ResourceInUseException,
// InvalidArgumentException, ValidationException, LimitExceededException).
const (
	// MsgStreamNotActiveOrUpdating (ResourceInUseException): name, account, state.
	MsgStreamNotActiveOrUpdating = "Stream %s under account %s not ACTIVE or UPDATING, instead in state %s"
	// MsgStreamNotActive (ResourceInUseException): name, account, state.
	MsgStreamNotActive = "Stream %s under account %s not ACTIVE, instead in state %s"
	// MsgShardCountOnDemand (ValidationException): name, account.
	MsgShardCountOnDemand = "UpdateShardCount is not supported for stream %s under account %s with capacity mode ON_DEMAND."
	// MsgShardCountMost (LimitExceededException): the most shards, open shards, target.
	MsgShardCountMost = "Target shard count or number of open shards cannot be greater than %d. Current open shard count: %d Target shard count: %d"
	// MsgShardCountDouble (LimitExceededException): open shards, target.
	MsgShardCountDouble = "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: %d Target shard count: %d"
	// MsgShardCountHalf (LimitExceededException): open shards, target.
	MsgShardCountHalf = "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: %d Target shard count: %d"
	// MsgShardCountRate (Sluice's own, LimitExceededException): name, account, calls.
	MsgShardCountRate = "UpdateShardCount for stream %s under account %s has been called %d times in the last 24 hours, the limit."
	// MsgStoreShardLimitScale (Sluice's own, LimitExceededException): shards, more needed, the limit.
	MsgStoreShardLimitScale = "This request would exceed the shard limit of the store: %d shards in all streams, %d more needed to scale, the limit is %d (--max-shards)."
	// MsgStreamModeSame (InvalidArgumentException): name, account, mode.
	MsgStreamModeSame = "Stream %s under account %s is already in %s capacity mode."
	// MsgStreamModeRate (Sluice's own, LimitExceededException): name, account, switches.
	MsgStreamModeRate = "Stream %s under account %s has switched capacity mode %d times in the last 24 hours, the limit."
)

// Encryption (InvalidArgumentException, LimitExceededException) and the
// keyring's KMS errors (KMSNotFoundException, KMSDisabledException).
const (
	// MsgEncryptionType (InvalidArgumentException): the type.
	MsgEncryptionType = "Encryption type %s is not supported. Use KMS."
	// MsgEncryptionRate (Sluice's own, LimitExceededException): name, account, starts.
	MsgEncryptionRate = "Stream %s under account %s has started encryption %d times in the last 24 hours, the limit."
	// MsgEncryptionKey (Sluice's own, InvalidArgumentException): the key, the stream.
	MsgEncryptionKey = "Key %s is not the key stream %s is encrypted with."
	// MsgKMSDisabled (KMSDisabledException): the key's ARN.
	MsgKMSDisabled = "%s is disabled."
	// MsgKMSInvalidARN (KMSNotFoundException): the key id.
	MsgKMSInvalidARN = "Invalid arn %s"
	// MsgKMSAliasNotFound (KMSNotFoundException): the alias's ARN.
	MsgKMSAliasNotFound = "Alias %s is not found."
	// MsgKMSInvalidKeyID (KMSNotFoundException): the key id.
	MsgKMSInvalidKeyID = "Invalid keyId %s"
	// MsgKMSKeyNotFound (KMSNotFoundException): the key's ARN.
	MsgKMSKeyNotFound = "Key '%s' does not exist"
)

// Consumers and subscriptions (ResourceNotFoundException,
// ResourceInUseException, InvalidArgumentException, LimitExceededException).
const (
	// MsgConsumerNotFound (ResourceNotFoundException): consumer, stream, account.
	MsgConsumerNotFound = "Consumer %s under stream %s under account %s not found."
	// MsgConsumerExists (ResourceInUseException): consumer, stream, account.
	MsgConsumerExists = "Consumer %s under stream %s already exists for account %s."
	// MsgConsumerLimit (Sluice's own, LimitExceededException): stream, account, the limit.
	MsgConsumerLimit = "Stream %s under account %s already has %d consumers, the limit."
	// MsgConsumerCreatingLimit (Sluice's own, LimitExceededException): stream, account, the limit.
	MsgConsumerCreatingLimit = "Stream %s under account %s already has %d consumers in CREATING status, the limit."
	// MsgNoConsumer (InvalidArgumentException).
	MsgNoConsumer = "Either ConsumerARN or both ConsumerName and StreamARN must be provided."
	// MsgStreamHasConsumers (ResourceInUseException): the stream's ARN, its name.
	MsgStreamHasConsumers = "DeleteStream can't delete %s because there are consumers associated with this data stream. " +
		"To delete %s anyway, set the EnforceConsumerDeletion parameter to true to force the deletion of all the consumers that are associated with it."
	// MsgConsumerNotActive (ResourceInUseException): consumer, creation (Unix seconds), stream, account.
	MsgConsumerNotActive = "Consumer %s with creation timestamp %d under stream: %s , account %s is not in ACTIVE status."
	// MsgSubscribeSequence (InvalidArgumentException): number, shard, stream, account.
	MsgSubscribeSequence = "StartingSequenceNumber %s used in SubscribeToShard on shard %s in stream %s under account %s is invalid because it did not come from this stream."
	// MsgSubscribeNoTimestamp (InvalidArgumentException).
	MsgSubscribeNoTimestamp = "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP."
	// MsgSubscribeTimestampNaN (Sluice's own, InvalidArgumentException).
	MsgSubscribeTimestampNaN = "Timestamp for iterator of type AT_TIMESTAMP is not a number."
	// MsgSubscriptionActive (ResourceInUseException): account, stream, shard, consumer.
	MsgSubscriptionActive = "Another active subscription exists for this consumer: %s:%s:%s:%s"
)

// Tags (InvalidArgumentException).
const (
	// MsgTagCharsStream: AddTagsToStream's and RemoveTagsFromStream's characters (a format: %% is '%').
	MsgTagCharsStream = "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - %% @."
	// MsgTagCharsResource: the resource operations' characters.
	MsgTagCharsResource = "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . : / = + - @."
	// MsgTagIllegalChars: a '%' in the stream operations' tags; what ("add tags to", …), stream, account.
	MsgTagIllegalChars = "Failed to %s stream %s under account %s because some tags contained illegal characters. " +
		"The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@'."
	// MsgTagReserved: the key.
	MsgTagReserved = "Tag key %s uses the prefix 'aws:', which is reserved for AWS use."
	// MsgTooManyTags: kind ("stream", "consumer"), name, account, kind, the limit.
	MsgTooManyTags = "Failed to add tags to %s %s under account %s because a given %s cannot have more than %d tags associated with it."
)

// Resource policies (AccessDeniedException, InvalidArgumentException).
const (
	// MsgPolicyExplicitDeny (AccessDeniedException): user ARN, operation, resource ARN.
	MsgPolicyExplicitDeny = "User: %s is not authorized to perform: kinesis:%s on resource: %s with an explicit deny in a resource-based policy"
	// MsgPolicyNoAllow (AccessDeniedException): user ARN, operation, resource ARN, operation.
	MsgPolicyNoAllow = "User: %s is not authorized to perform: kinesis:%s on resource: %s because no resource-based policy allows the kinesis:%s action"
	// MsgPolicyConsumer (Sluice's own, InvalidArgumentException): the stream.
	MsgPolicyConsumer = "This store keeps resource policies of streams only; the policy of stream %s applies to its consumers."
	// MsgPolicyInvalid (Sluice's own, InvalidArgumentException): one of the MsgPolicy problems below, formatted.
	MsgPolicyInvalid = "Invalid policy document: %s"
	// The problems of a policy document (Sluice's own).
	MsgPolicyNotObject       = "the policy must be a JSON object."
	MsgPolicyVersion         = "Version must be \"2012-10-17\" or \"2008-10-17\"."
	MsgPolicyID              = "Id must be a string."
	MsgPolicyUnknownMember   = "unknown member %q." // member
	MsgPolicyNoStatement     = "the policy has no Statement."
	MsgPolicyStatementList   = "Statement must be an object or a non-empty list of objects."
	MsgPolicyStatement       = "statement %d: %s." // statement (from 1), problem
	MsgPolicyStatementObject = "a statement must be a JSON object"
	MsgPolicyEffect          = "Effect must be \"Allow\" or \"Deny\""
	MsgPolicySid             = "Sid must be a string"
	MsgPolicyAction          = "%s %q is not of the form service:action"            // member, action
	MsgPolicyStatementMember = "unknown member %q"                                  // member
	MsgPolicyOneOf           = "a statement needs exactly one of %s and Not%s"      // member, member
	MsgPolicyStrings         = "%s must be a string or a non-empty list of strings" // member
	MsgPolicyPrincipal       = "Principal must be \"*\" or an object such as {\"AWS\": \"…\"}"
	MsgPolicyPrincipalType   = "unknown principal type %q" // type
	MsgPolicyCondition       = "Condition must map operators to objects of keys and values"
	MsgPolicyConditionOp     = "condition operator %q is not supported by this store (it evaluates String* and Arn* operators)"           // operator
	MsgPolicyConditionKey    = "condition key %q is not supported by this store (it evaluates aws:PrincipalArn and aws:PrincipalAccount)" // key
)

// CBOR requests (Sluice's own, SerializationException): a body that is
// not CBOR the store can read as the operation's JSON.
const (
	MsgCBORParse      = "cannot parse CBOR request: %v" // the decoder's error
	MsgCBORTextUTF8   = "cannot parse CBOR request: a text string is not valid UTF-8"
	MsgCBORKeyNotText = "cannot parse CBOR request: a map key is not a text string"
	MsgCBORKeyUTF8    = "cannot parse CBOR request: a map key is not valid UTF-8"
	MsgCBORTag0Text   = "cannot parse CBOR request: tag 0 does not hold a text string"
	MsgCBORTag0       = "cannot parse CBOR request: tag 0: %v"                        // the time's parse error
	MsgCBORNumber     = "cannot parse CBOR request: the number %v has no JSON form"   // the number
	MsgCBORSimple     = "cannot parse CBOR request: simple value %d has no JSON form" // the value
	MsgCBORTimestamp  = "cannot parse CBOR request: the timestamp %v is not a time"   // the number
	MsgCBORTag1       = "cannot parse CBOR request: tag 1 does not hold a number"
)
